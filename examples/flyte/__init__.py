"""Flyte's raw-container examples, written as Flyte users write them, with only the import changed
(``from flyte.extras import ContainerTask`` / ``from flyte.io import File, Dir`` ->
``from containertask import ...``).

Each module defines one task; :data:`TASKS` lists them with inputs to run them with and the
outputs those inputs give, for the tests (locally in Docker/Podman, on the local cluster, and on a
real node). The images are Flyte's example images; ``hack/localengine/mkimage.py`` makes local
stand-ins under the same names.
"""
