"""Example ContainerTasks used by the README and the tests."""
