"""The team workspace's service side: setting a server up (``setup``), the object the server's
handlers call (``TeamService``), and the members' client side (``client``, ``login``)."""
