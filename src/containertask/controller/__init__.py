"""The operator: reconciles ContainerTask resources into pods.

Pure parts build pods (:mod:`pods`), read them (:mod:`observe`) and decide what to do next
(:mod:`decide`); :mod:`kube` owns the API calls, :mod:`reconciler` applies decisions and
:mod:`handlers` wires it all into kopf, which watches ContainerTasks; :mod:`informer` keeps a
trimmed view of the operator's pods (:mod:`views`). :mod:`entrypoint` is ``containertask operator``.
"""
