{#- A model's schema is the one it names (staging), or the target's (MARTS_SCHEMA): not dbt's default
    "<target>_<custom>", so a BI tool finds the marts under one stable name. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
