"""Admin for the default recipient models: find people, fix their addresses."""

from django.contrib import admin

from .models import Customer, ExternalSubject, ExternalSubjectTypology


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["last_name", "first_name", "email", "phone", "telegram_chat_id", "city", "owner"]
    list_filter = ["city"]
    list_select_related = ["owner"]
    search_fields = ["first_name", "last_name", "email", "phone"]
    raw_id_fields = ["owner"]
    show_full_result_count = False  # customer lists can be large


@admin.register(ExternalSubjectTypology)
class ExternalSubjectTypologyAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(ExternalSubject)
class ExternalSubjectAdmin(admin.ModelAdmin):
    list_display = ["name", "typology", "email", "phone", "telegram_chat_id", "vat_number"]
    list_filter = ["typology"]
    list_select_related = ["typology"]
    search_fields = ["name", "email", "phone", "vat_number"]
    autocomplete_fields = ["typology"]
    show_full_result_count = False
