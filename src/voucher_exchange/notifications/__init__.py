"""E-mails to sellers when a trade is paid, refused, held or reversed."""
