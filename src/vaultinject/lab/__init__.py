"""The lab: emulated Kubernetes API server, kubelet and Vault server for tests, demos and drills.

The lab is a black box to the product: nothing outside `vaultinject.lab` and the CLI's `lab`
commands imports it, and the lab never imports the product's domain logic.
"""
