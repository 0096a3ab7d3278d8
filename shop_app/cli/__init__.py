"""The command line (`reclaim`) and the demo it runs; thin wrappers over the core."""
