"""The organisation's customers: accounts (a Company, Practice or Programme), their status and the people over them."""
