"""One module per algorithm; every agent follows :class:`mdrl_lib.train.Agent`."""
