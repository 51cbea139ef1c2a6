{#- How a silver `*_checked` model and its clean view read and write versions.
    A checked model is: `current_versions(name)`, its checks (a select of
    `<cte>.*` plus `quarantine_reason`), then `checked_versions(name)`. The
    column lists come from `landed_columns(name)`, the bronze model's YAML. -#}


{#- The current version of every key of a bronze model, tombstones
    (`is_deleted`) included, with its landed columns, `is_deleted`,
    `batch_id` and `previous_reason`, for a `*_checked` model to check again.

    Full build: the latest version in every landed batch (`previous_reason`
    null). Incremental run: the latest version in the batches this model has
    not seen yet, and this model's own row for every other key, with the
    quarantine reason it had. Every key is checked again on every run, so a
    rule that depends on other rows or other tables (a parent that arrived,
    was deleted or went to quarantine) gives the same answer as a full
    rebuild; `checked_versions` then keeps the rows to write. Append-only
    tables have no `modified_at`: the newest batch wins. -#}
{% macro current_versions(name) -%}
    {%- set table = source_table(name) -%}
    {%- set relation = ref('brz_' ~ name) -%}
    {%- set order_by = 'batch_id desc' if table.append_only else 'batch_id desc, modified_at desc' -%}
    select
        {{- version_columns('newest', landed_columns(name) + ['is_deleted', 'batch_id']) }}
        cast(null as {{ dbt.type_string() }}) as previous_reason
    from (
        select
            versions.*,
            row_number() over (
                partition by versions.{{ table.key }}
                order by {{ order_by }}
            ) as version_rank
        from {{ relation }} as versions
        {%- if is_incremental() %}
        where versions.batch_id > ({{ last_seen_batch() }})
        {%- endif %}
    ) as newest
    where newest.version_rank = 1
    {%- if is_incremental() %}

    union all

    select
        {{- version_columns('previous', landed_columns(name) + ['is_deleted', 'batch_id']) }}
        previous.quarantine_reason as previous_reason
    from {{ this }} as previous
    where not exists (
        select 1
        from {{ relation }} as newer
        where newer.batch_id > ({{ last_seen_batch() }})
            and newer.{{ table.key }} = previous.{{ table.key }}
    )
    {%- endif %}
{%- endmacro %}


{#- What a `*_checked` model writes from its checked rows (`relation_alias`):
    the landed columns, `extra_columns` (derived by the checks), the
    tombstone flag, the batch and the quarantine reason, stamped `checked_at`.
    On an incremental run only the new versions and the rows whose quarantine
    reason changed (merged on the model's unique key); everything on a full
    build. -#}
{% macro checked_versions(name, relation_alias='checked', extra_columns=[]) -%}
    select
        {{- version_columns(relation_alias, landed_columns(name) + extra_columns
            + ['is_deleted', 'batch_id', 'quarantine_reason']) }}
        {{ as_utc_timestamp(dbt.current_timestamp()) }} as checked_at
    from {{ relation_alias }}
    {%- if is_incremental() %}
    where {{ relation_alias }}.batch_id > ({{ last_seen_batch() }})
        or coalesce({{ relation_alias }}.quarantine_reason, '') <> coalesce({{ relation_alias }}.previous_reason, '')
    {%- endif %}
{%- endmacro %}


{#- A clean silver view: the current versions of `slv_<name>_checked` that
    are neither tombstones nor quarantined, with their landed columns,
    `extra_columns`, batch and check time. -#}
{% macro valid_versions(name, extra_columns=[]) -%}
    select
        {{- version_columns('checked', landed_columns(name) + extra_columns + ['batch_id']) }}
        checked.checked_at
    from {{ ref('slv_' ~ name ~ '_checked') }} as checked
    where not {{ flag_is_true('checked.is_deleted') }}
        and checked.quarantine_reason is null
{%- endmacro %}


{#- `alias.column,` for each column, one a line. -#}
{% macro version_columns(relation_alias, columns) -%}
    {%- for column in columns %}
        {{ relation_alias }}.{{ column }},
    {%- endfor %}
{%- endmacro %}


{#- The newest bronze batch an incremental silver model has already taken in. -#}
{% macro last_seen_batch() -%}
    select coalesce(max(seen.batch_id), 0) from {{ this }} as seen
{%- endmacro %}
