"""The lab's pod network: the address plan (`ipam`), the Service proxy (`proxy`) and per-pod hosts files
(`hosts`). Every address is in 127.0.0.0/8."""
