"""`vaultinject vault-setup`: configure Vault's Kubernetes auth the robust way.

`plan` is pure (evidence in, steps out); `shell` gathers the evidence from Vault and Kubernetes and
applies the steps.
"""
