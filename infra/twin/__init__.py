"""`kiva twin`: apply a plan to a real Kubernetes control plane with fake nodes and let Kubernetes judge it.

The API server decides what is accepted (schemas, strict field validation, admission incl. Pod Security),
the controller-manager creates the pods and the scheduler places them on nodes shaped like the stack's
pools. Nothing runs: there is no kubelet, container runtime, CNI, webhook server, provisioner or cloud.
"""
