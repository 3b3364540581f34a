"""Sales KPIs: conversion, days to won, pipeline value, stock aging, profit and revenue."""
