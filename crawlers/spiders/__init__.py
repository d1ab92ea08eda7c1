"""Spiders. clinic_site and nppes yield clinic records (``crawlers.items.new_clinic``);
source_check, openstates and insurer_policy yield the other kinds of ``crawlers.items``
(``new_record``), each named by the spider's ``item_kind``."""
