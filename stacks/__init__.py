"""The two stacks: stateful (data, keys, network) and stateless (API, jobs, monitoring)."""
