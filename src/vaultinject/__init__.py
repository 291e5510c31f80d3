"""vaultinject: deliver HashiCorp Vault secrets into Kubernetes pods, and keep that delivery working."""

__version__ = "0.1.0"
