# The graphical session without autologin (an edition's session.autologin: false, which writes
# /etc/genai/no-autologin): a user's login on the screen's console (tty1) starts it; logging out of
# the session ends the login, and the console asks again. Root's login stays a shell, for repairs.
if [ -e /etc/genai/no-autologin ] && [ "$(tty)" = /dev/tty1 ] && [ "$(id -u)" -ne 0 ] && [ -z "$WAYLAND_DISPLAY" ]; then
	exec /usr/libexec/genai/desktop-session
fi
