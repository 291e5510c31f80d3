"""The lab kubelet: container runtime, volumes and env for real node processes; simulated (kwok-style) nodes."""
