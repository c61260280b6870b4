"""External programs: the one door through which gristops starts them."""
