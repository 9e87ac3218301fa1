"""The bring-your-own-cluster path: STACKIT SKE, IONOS, Open Telekom Cloud CCE, on-prem k3s/RKE/OpenShift."""
