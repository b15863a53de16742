"""The live layer: where rendered manifests go (deploy) and how what is live is read back."""
