from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import User


@admin.register(User)
class PlatformUserAdmin(UserAdmin):
    list_display = ("username", "role", "is_staff", "is_active", "date_joined")
    list_filter = ("role", "is_staff", "is_active")
    fieldsets = (*UserAdmin.fieldsets, ("Platform", {"fields": ("role",)}))  # type: ignore[misc]
