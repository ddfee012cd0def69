"""Pod sandboxes: the pause process holding a pod's namespaces, the pod's
network namespace and its CNI attachment, and the containers joined to it.
Above the engine (it uses engine, image, runtime, network); nothing in
engine/ or below imports it."""
