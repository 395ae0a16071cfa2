"""The master role: logins, placement and the cluster tables (features C1, C2, C5, U1, U2)."""
