"""The benchmark harness (``make bench``): measured figures at stated data sizes."""
