"""Synthetic NPPES Data Dissemination ZIPs in the published layout (the main file's 330 columns in
their order, the practice-location and other-name files), for the bulk loader's tests and
benchmark. Every provider is made up: names begin with "Synthetic" (or "SYNTHETIC"), NPIs are
made-up numbers with a valid check digit, phones are in the fictional 555-01xx range.

    write_zip(path, 100_000, seed=0)   # never under data/
"""

import csv
import io
import random
import zipfile

from kad import DATA, normalise

MAIN_NAME = "npidata_pfile_20050523-20261109.csv"
LOCATIONS_NAME = "pl_pfile_20050523-20261109.csv"
OTHER_NAMES_NAME = "othername_pfile_20050523-20261109.csv"
ENDPOINTS_NAME = "endpoint_pfile_20050523-20261109.csv"
NAME_PARTS = ("Provider Last Name", "Provider First Name", "Provider Middle Name", "Provider Name Prefix Text",
              "Provider Name Suffix Text", "Provider Credential Text")
ADDRESS_PARTS = ("First Line {kind} Address", "Second Line {kind} Address", "{kind} Address City Name",
                 "{kind} Address State Name", "{kind} Address Postal Code",
                 "{kind} Address Country Code (If outside U.S.)", "{kind} Address Telephone Number",
                 "{kind} Address Fax Number")


def main_header():
    """The main file's columns, in the published order."""
    header = ["NPI", "Entity Type Code", "Replacement NPI", "Employer Identification Number (EIN)",
              "Provider Organization Name (Legal Business Name)", "Provider Last Name (Legal Name)",
              *NAME_PARTS[1:], "Provider Other Organization Name", "Provider Other Organization Name Type Code",
              *(p.replace("Provider ", "Provider Other ") for p in NAME_PARTS), "Provider Other Last Name Type Code"]
    for kind in ("Business Mailing", "Business Practice Location"):
        header += ["Provider " + p.format(kind=kind) for p in ADDRESS_PARTS]
    header += ["Provider Enumeration Date", "Last Update Date", "NPI Deactivation Reason Code", "NPI Deactivation Date",
               "NPI Reactivation Date", "Provider Gender Code", "Authorized Official Last Name",
               "Authorized Official First Name", "Authorized Official Middle Name", "Authorized Official Title or Position",
               "Authorized Official Telephone Number"]
    for n in range(1, 16):
        header += [f"Healthcare Provider Taxonomy Code_{n}", f"Provider License Number_{n}",
                   f"Provider License Number State Code_{n}", f"Healthcare Provider Primary Taxonomy Switch_{n}"]
    for n in range(1, 51):
        header += [f"Other Provider Identifier_{n}", f"Other Provider Identifier Type Code_{n}",
                   f"Other Provider Identifier State_{n}", f"Other Provider Identifier Issuer_{n}"]
    header += ["Is Sole Proprietor", "Is Organization Subpart", "Parent Organization LBN", "Parent Organization TIN",
               "Authorized Official Name Prefix Text", "Authorized Official Name Suffix Text",
               "Authorized Official Credential Text", *(f"Healthcare Provider Taxonomy Group_{n}" for n in range(1, 16)),
               "Certification Date"]
    return header


LOCATION_HEADER = ["NPI", "Provider Secondary Practice Location Address- Address Line 1",
                   "Provider Secondary Practice Location Address-  Address Line 2",
                   "Provider Secondary Practice Location Address - City Name",
                   "Provider Secondary Practice Location Address - State Name",
                   "Provider Secondary Practice Location Address - Postal Code",
                   "Provider Secondary Practice Location Address - Country Code (If outside U.S.)",
                   "Provider Secondary Practice Location Address - Telephone Number",
                   "Provider Secondary Practice Location Address - Telephone Extension",
                   "Provider Practice Location Address - Fax Number"]
OTHER_NAMES_HEADER = ["NPI", "Provider Other Organization Name", "Provider Other Organization Name Type Code"]
ENDPOINTS_HEADER = ["NPI", "Endpoint Type", "Endpoint Type Description", "Endpoint", "Affiliation",
                    "Endpoint Description", "Affiliation Legal Business Name", "Use Code", "Use Description",
                    "Other Use Description", "Content Type", "Content Description", "Other Content Description",
                    "Affiliation Address Line One", "Affiliation Address Line Two", "Affiliation Address City",
                    "Affiliation Address State", "Affiliation Address Country", "Affiliation Address Postal Code"]


def npi_with_check_digit(base9):
    """A 10-digit NPI: the nine digits given and their check digit."""
    return base9 + normalise.npi_check_digit(base9)


def main_row(header_index, **values):
    """A main-file row with the given columns (by header name) set and the rest empty."""
    row = [""] * len(header_index)
    for title, value in values.items():
        row[header_index[title]] = value
    return row


def _csv_bytes(header, rows):
    text = io.StringIO()
    writer = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def write_archive(path, main_rows, location_rows=(), other_name_rows=()):
    """A ZIP with the three files (and an empty endpoint file), main rows given as full rows."""
    header = main_header()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open(MAIN_NAME, "w") as handle:
            writer_text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
            writer = csv.writer(writer_text, quoting=csv.QUOTE_ALL, lineterminator="\n")
            writer.writerow(header)
            for row in main_rows:
                writer.writerow(row)
            writer_text.flush()
            writer_text.detach()
        archive.writestr(MAIN_NAME.replace(".csv", "_fileheader.csv"), _csv_bytes(header, []))
        archive.writestr(LOCATIONS_NAME, _csv_bytes(LOCATION_HEADER, location_rows))
        archive.writestr(OTHER_NAMES_NAME, _csv_bytes(OTHER_NAMES_HEADER, other_name_rows))
        archive.writestr(ENDPOINTS_NAME, _csv_bytes(ENDPOINTS_HEADER, []))
    return path


KEPT_SHARE = 0.002  # about the share of ketamine/infusion providers in the real file


def synthetic_rows(count, seed=0):
    """`count` main-file rows: mostly unrelated practitioners, a small share of ketamine clinics."""
    header = main_header()
    index = {title: i for i, title in enumerate(header)}
    rng = random.Random(seed)
    for n in range(count):
        npi = npi_with_check_digit(f"{100000000 + n:09d}")
        phone = f"512555{rng.randrange(100, 200):04d}"
        if rng.random() < KEPT_SHARE:
            values = {"Entity Type Code": "2", "Provider Organization Name (Legal Business Name)":
                      f"SYNTHETIC KETAMINE CLINIC {n}", "Healthcare Provider Taxonomy Code_1": "261QI0500X"}
        else:
            values = {"Entity Type Code": "1", "Provider Last Name (Legal Name)": f"SYNTHETIC{n}",
                      "Provider First Name": "PAT", "Provider Credential Text": "M.D.",
                      "Healthcare Provider Taxonomy Code_1": rng.choice(("207Q00000X", "2084P0800X", "363LF0000X"))}
        yield main_row(index, NPI=npi, **values, **{
            "Healthcare Provider Primary Taxonomy Switch_1": "Y",
            "Provider First Line Business Practice Location Address": f"{n % 9000 + 1} SYNTHETIC ST",
            "Provider Business Practice Location Address City Name": "AUSTIN",
            "Provider Business Practice Location Address State Name": "TX",
            "Provider Business Practice Location Address Postal Code": "787011234",
            "Provider Business Practice Location Address Telephone Number": phone,
            "Provider Enumeration Date": "01/01/2020", "Last Update Date": "01/01/2026"})


def write_zip(path, count, seed=0):
    if DATA in path.resolve().parents:
        raise ValueError("synthetic NPPES files never go under data/")
    return write_archive(path, synthetic_rows(count, seed))
