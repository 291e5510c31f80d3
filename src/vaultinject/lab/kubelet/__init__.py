"""The lab kubelet: real per-node processes, and simulated (kwok-style) nodes."""
