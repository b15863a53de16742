"""gitops-bot: review Kubernetes changes in pull / merge requests, deploy what was merged."""

__version__ = "0.1.0"
