"""Spiders. clinic_site and nppes yield clinic records (``crawlers.items.new_clinic``);
source_check, openstates and insurer_policy yield the other kinds of ``crawlers.items``
(``new_record``), each named by the spider's ``item_kind``.

``make refresh`` (kad/refresh.py) runs every spider here, stage by stage and by name within a
stage. A spider says what it needs in two class attributes:

* ``refresh_stage``: one of the stages below (``READS_SOURCES`` when it does not say);
* ``needs_env``: the environment variables it cannot run without (an API key); while one is
  unset the refresh skips it and says so.
"""

READS_SOURCES = 1  # reads the public sources themselves (clinic sites, registries, APIs)
USES_FEEDS = 2  # reads the feeds of stage 1 too (e.g. looks up the NPIs the clinic feeds found)
CHECKS_SOURCES = 3  # checks the addresses the curated data and the other feeds cite
