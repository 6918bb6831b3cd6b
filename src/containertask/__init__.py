"""containertask: run typed container tasks on Kubernetes."""
