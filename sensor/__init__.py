"""The node sensor: eBPF syscall capture (bpf/), process and container state, enrichment
into ``syscall`` source events for the rule core."""
