"""The lab kubelet: the runtime, volumes and env of real node processes; simulated (kwok) nodes."""
