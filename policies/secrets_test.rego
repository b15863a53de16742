package main

import rego.v1

labels := {"app.kubernetes.io/name": "db"}

test_plaintext_secret_denied if {
	msgs := deny with input as {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "labels": labels}, "data": {"password": "aHVudGVyMg=="}}
	some msg in msgs
	contains(msg, "plaintext Secret")
}

test_string_data_denied if {
	count(deny) == 1 with input as {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "labels": labels}, "stringData": {"password": "hunter2"}}
}

test_sops_secret_passes if {
	count(deny) == 0 with input as {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "labels": labels}, "data": {"password": "ENC[AES256_GCM,data:abc,iv:def,tag:ghi,type:str]"}, "sops": {"mac": "ENC[AES256_GCM,data:xyz]", "version": "3.9.0"}}
}

test_half_encrypted_sops_denied if {
	count(deny) == 1 with input as {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "labels": labels}, "data": {"a": "ENC[AES256_GCM,data:abc]", "b": "cGxhaW4="}, "sops": {"mac": "ENC[x]"}}
}

test_sealed_secret_passes if {
	count(deny) == 0 with input as {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "db", "labels": labels}, "spec": {"encryptedData": {"password": "AgBy3i4OJSWK+PiTySYZZA=="}}}
}

test_empty_secret_passes if {
	count(deny) == 0 with input as {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "token", "labels": labels}, "type": "kubernetes.io/service-account-token"}
}
