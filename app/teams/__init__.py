"""Teams of members, each member's capacity and absence, and who a new ticket goes to."""
