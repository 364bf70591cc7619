// Metrics, protocols and reports live here.
