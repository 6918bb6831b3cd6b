"""The copilot: the downloader init container and the uploader sidecar of a task's pod."""
