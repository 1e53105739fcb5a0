"""Frappe-shaped DDL of the tables zabbix-sepa reads.

Mirrors what Frappe (v15+) creates for these DocTypes: the standard columns,
`name` as primary key, an index on `creation` for parent tables and on
`parent` for child tables, unique indexes for unique fields, the indexes a
doctype's `on_doctype_update` adds (INDEXES), and nothing else. Status, member,
user and date fields are deliberately NOT indexed, as on a stock site. Used by
the tests, the benchmark and the demo; never by the collector.
"""

# Frappe's field types as MariaDB column types.
DATA = "varchar(140)"
DATE = "date"
DATETIME = "datetime(6)"
CURRENCY = "decimal(21,9) not null default 0"
INT = "int(11) not null default 0"
CHECK = "int(1) not null default 0"
TEXT = "text"
LONGTEXT = "longtext"

STANDARD = [
    ("name", "varchar(140) not null"),
    ("creation", DATETIME),
    ("modified", DATETIME),
    ("modified_by", DATA),
    ("owner", DATA),
    ("docstatus", "int(1) not null default 0"),
    ("idx", "int(8) not null default 0"),
]
PARENT_EXTRA = [("_user_tags", TEXT), ("_comments", TEXT), ("_assign", TEXT), ("_liked_by", TEXT)]
CHILD_EXTRA = [("parent", DATA), ("parentfield", DATA), ("parenttype", DATA)]

# doctype -> (is_child, [(column, type)], [unique columns])
DOCTYPES = {
    "Direct Debit Batch": (False, [
        ("batch_date", DATE), ("batch_description", DATA), ("batch_type", DATA),
        ("total_amount", CURRENCY), ("currency", DATA), ("entry_count", INT),
        ("status", DATA), ("sequence_type", DATA), ("sepa_file_generated", CHECK),
        ("amended_from", DATA),
    ], []),
    "Direct Debit Batch Invoice": (True, [
        ("invoice", DATA), ("membership", DATA), ("member", DATA), ("member_name", DATA),
        ("amount", CURRENCY), ("currency", DATA), ("iban", DATA), ("bic", DATA),
        ("mandate_reference", DATA), ("status", DATA), ("result_code", DATA),
        ("result_message", TEXT),
    ], []),
    "SEPA Mandate": (False, [
        ("mandate_id", DATA), ("member", DATA), ("member_name", DATA), ("account_holder_name", DATA),
        ("status", DATA), ("mandate_type", DATA), ("scheme", DATA), ("iban", DATA), ("bic", DATA),
        ("sign_date", DATE), ("first_collection_date", DATE), ("expiry_date", DATE),
        ("cancelled_date", DATE), ("cancelled_reason", TEXT), ("is_active", CHECK),
        ("used_for_memberships", CHECK), ("used_for_donations", CHECK),
    ], ["mandate_id"]),
    "SEPA Mandate Usage": (True, [
        ("usage_date", DATE), ("sequence_type", DATA), ("batch_reference", DATA),
        ("amount", CURRENCY), ("status", DATA), ("reference_doctype", DATA), ("reference_name", DATA),
    ], []),
    "SEPA Payment Retry": (False, [
        ("invoice", DATA), ("member", DATA), ("status", DATA), ("retry_count", INT),
        ("next_retry_date", DATE), ("last_retry_date", DATE), ("original_amount", CURRENCY),
        ("failure_reason", TEXT),
    ], []),
    "SEPA Audit Log": (False, [
        ("event_id", DATA), ("timestamp", DATETIME), ("process_type", DATA), ("action", DATA),
        ("compliance_status", DATA), ("reference_doctype", DATA), ("reference_name", DATA),
        ("user", DATA), ("details", LONGTEXT),
    ], []),
    "Membership Dues Schedule": (False, [
        ("schedule_name", DATA), ("is_template", CHECK), ("member", DATA), ("member_name", DATA),
        ("membership_type", DATA), ("status", DATA), ("auto_generate", CHECK),
        ("billing_frequency", DATA), ("dues_rate", CURRENCY), ("next_invoice_date", DATE),
        ("last_invoice_date", DATE),
    ], []),
    "Member": (False, [
        ("member_id", DATA), ("first_name", DATA), ("last_name", DATA), ("full_name", DATA),
        ("email", DATA), ("status", DATA), ("payment_method", DATA), ("customer", DATA),
        ("iban", DATA), ("bic", DATA), ("birth_date", DATE), ("member_since", DATE),
    ], []),
    "Volunteer": (False, [
        ("volunteer_name", DATA), ("member", DATA), ("email", DATA), ("status", DATA),
        ("start_date", DATE),
    ], []),
    "Sales Invoice": (False, [
        ("title", DATA), ("customer", DATA), ("customer_name", DATA), ("posting_date", DATE),
        ("due_date", DATE), ("currency", DATA), ("grand_total", CURRENCY),
        ("rounded_total", CURRENCY), ("outstanding_amount", CURRENCY), ("status", DATA),
        ("is_return", CHECK), ("remarks", TEXT),
    ], []),
    "Error Log": (False, [
        ("seen", CHECK), ("method", DATA), ("error", LONGTEXT), ("reference_doctype", DATA),
        ("reference_name", DATA), ("trace_id", DATA),
    ], []),
    "Scheduled Job Type": (False, [
        ("method", DATA), ("server_script", DATA), ("scheduler_event", DATA), ("frequency", DATA),
        ("cron_format", DATA), ("create_log", CHECK), ("stopped", CHECK), ("last_execution", DATETIME),
    ], []),
    "Scheduled Job Log": (False, [
        ("scheduled_job_type", DATA), ("status", DATA), ("details", LONGTEXT), ("debug_log", LONGTEXT),
    ], []),
    # Frappe core (frappe/core/doctype/activity_log): logins, logouts and failed logins
    # (operation Login/Logout/Impersonate, status Success/Failed) and document feed rows
    # (status Linked). No field has search_index; track_seen adds `_seen`.
    "Activity Log": (False, [
        ("subject", TEXT), ("content", LONGTEXT), ("communication_date", DATETIME), ("ip_address", DATA),
        ("operation", DATA), ("status", DATA), ("reference_doctype", DATA), ("reference_name", DATA),
        ("reference_owner", DATA), ("timeline_doctype", DATA), ("timeline_name", DATA), ("link_doctype", DATA),
        ("link_name", DATA), ("user", DATA), ("full_name", DATA), ("_seen", TEXT),
    ], []),
}

# doctype -> the column lists its `on_doctype_update` indexes with frappe.db.add_index
# (named as Frappe names them: the columns joined by "_", then "_index").
INDEXES = {
    "Activity Log": (("reference_doctype", "reference_name"), ("timeline_doctype", "timeline_name")),
}


def table(doctype):
    return "tab" + doctype


def create_table_sql(doctype):
    is_child, fields, unique = DOCTYPES[doctype]
    cols = STANDARD + (CHILD_EXTRA if is_child else PARENT_EXTRA) + fields
    lines = [f"`{c}` {t}" for c, t in cols]
    lines.append("PRIMARY KEY (`name`)")
    lines.extend(f"UNIQUE KEY `{u}` (`{u}`)" for u in unique)
    lines.append("KEY `parent` (`parent`)" if is_child else "KEY `creation` (`creation`)")
    lines.extend(f"KEY `{'_'.join(cols)}_index` ({', '.join(f'`{c}`' for c in cols)})"
                 for cols in INDEXES.get(doctype, ()))
    body = ",\n  ".join(lines)
    return (f"CREATE TABLE `{table(doctype)}` (\n  {body}\n) ENGINE=InnoDB ROW_FORMAT=DYNAMIC "
            "DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci")


SINGLES_SQL = ("CREATE TABLE `tabSingles` (`doctype` varchar(255), `field` varchar(255), `value` text, "
               "KEY `singles_doctype_field_index` (`doctype`, `field`)) ENGINE=InnoDB "
               "DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci")


def create_schema(cursor, skip=()):
    """Create every table (but those whose doctype is in `skip`) in the current database."""
    for doctype in DOCTYPES:
        if doctype not in skip:
            cursor.execute(create_table_sql(doctype))
    cursor.execute(SINGLES_SQL)
