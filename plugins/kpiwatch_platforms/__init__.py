"""Built-in platform plugins of kpiwatch, one package per platform."""
