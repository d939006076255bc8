"""Mapping: templates that compile a snapshot's tables into the target model, crosswalks,
published versions."""
