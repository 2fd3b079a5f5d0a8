from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from sender.web.throttle import ThrottledLoginView, ThrottledPasswordResetView, admin_login

# One door, with the throttle: the admin's own login form would let passwords be guessed
# without it. Every request to /admin/login/ goes to the site's login and comes back.
admin.site.login = admin_login

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/reset/", ThrottledPasswordResetView.as_view(), name="password_reset"),
    path("accounts/password/reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("accounts/reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("sender.api.urls")),
    path("", include("sender.web.urls")),
]
