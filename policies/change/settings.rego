# Settings the change policies share, read from data.gitops_settings (policies/data.json)
# with safe defaults, so a missing data file never opens a gate.
package gitops.change

import rego.v1

default platform_apps := ["platform"]

platform_apps := data.gitops_settings.platform_apps

default platform_team := "platform"

platform_team := data.gitops_settings.platform_team

default production_environments := ["production", "prod"]

production_environments := data.gitops_settings.production_environments

is_platform_app(app) if app in platform_apps

# A forge reports a team as its slug (`platform`) or with its organisation
# (`acme/platform`, GitHub) or parent groups (`acme/ops/platform`, GitLab): both match.
in_team(teams, group) if group in teams

in_team(teams, group) if {
	some team in teams
	endswith(team, concat("", ["/", group]))
}
