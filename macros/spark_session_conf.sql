{#- On the spark target, the run's log names the Spark settings the session
    took from the Airflow Variable `spark_config` (LOGISTICS_SPARK_CONF, see
    profiles/profiles.yml): each as the session reports it (`set <key>`), so a
    setting that did not take effect shows what the session runs with. -#}
{% macro log_spark_session_conf() -%}
    {%- if execute and target.type == 'spark' -%}
        {%- set shown = [] -%}
        {%- for key in fromjson(env_var('LOGISTICS_SPARK_CONF', '{}')) | sort -%}
            {%- set row = run_query('set ' ~ key).rows[0] -%}
            {%- do shown.append(row[0] ~ '=' ~ row[1]) -%}
        {%- endfor -%}
        {%- if shown -%}
            {{- log('spark session settings from spark_config: ' ~ shown | join(', '), info=true) -}}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
