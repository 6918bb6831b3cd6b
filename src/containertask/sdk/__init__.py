"""The Python SDK: ContainerTask definitions, their manifests, and runs on a cluster.

The public names are re-exported by the ``containertask`` package.
"""
