"""Spiders. clinic_site and nppes yield clinic records (``crawlers.items.new_clinic``);
the others yield the other kinds of ``crawlers.items`` (``new_record``), each named by the
spider's ``item_kind``.

``make refresh`` (kad/refresh.py) runs every spider here, each after the spiders whose feeds it
reads, otherwise by name. A spider says what it needs in class attributes:

* ``refresh_after``: the names of the spiders whose feeds it reads (``EVERY_OTHER`` to run last,
  after all of them, as source_check does to check what they cite);
* ``needs_env``: the environment variables it cannot run without (an API key); while one is
  unset the refresh skips it and says so.

A spider that cannot run without arguments refuses them in its constructor with a ValueError
saying which; the refresh skips it with that message unless they are given (``-a SPIDER:NAME=``).
"""

EVERY_OTHER = "*"
