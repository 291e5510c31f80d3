"""The lab kubelet: runtime, volumes, env and the node process."""
