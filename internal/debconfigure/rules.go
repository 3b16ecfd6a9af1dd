package debconfigure

// The closed world: what each command of a maintainer script, and each trigger, amounts to on a
// fresh install into an image built without running anything. A command or trigger not in these
// tables fails the stage, naming the package and the effect, unless the recipe skips it on purpose.

// How says what the builder does about an effect.
type How string

const (
	// Produced: the builder writes the effect's result, in Go (see Result).
	Produced How = "produced"
	// Irrelevant: the effect does not apply to an image built this way; Reason says why.
	Irrelevant How = "irrelevant"
	// ReadOnly: the command only reads or computes (its output redirections are listed apart).
	ReadOnly How = "read-only"
	// NotRun: the script or branch is not run on a fresh install (Policy §6.5, §6.6).
	NotRun How = "not run"
	// Skipped: the recipe lists the effect in configure.skip.
	Skipped How = "skipped by the recipe"
)

type rule struct {
	how    How
	reason string
}

const (
	whyService   = "starts, stops or enables a service for systemd, sysv-rc or runit; consciousness-init starts what the edition's units say, and nothing runs at build time"
	whyDebconf   = "debconf protocol: the image takes each question's default, as a noninteractive install does (the answers' effects are the script's other commands)"
	whyMoveConf  = "moves conffiles, symlinks or directories left by older versions; a fresh install has none (dpkg-maintscript-helper(1) acts only when the old version, $2, is older)"
	whyLdconfig  = "ld.so.cache: Debian's libraries live in the multiarch directories ld.so searches without a cache (its system search path, and libc6's /etc/ld.so.conf.d/x86_64-linux-gnu.conf lists the same ones)"
	whyTmpfiles  = "tmpfiles.d entries create /run and /var state at boot (/run is an empty tmpfs in the image); the build writes nothing"
	whySysusers  = "users and groups come from usr/lib/sysusers.d at build time (internal/accounts)"
	whySELinux   = "SELinux labels: the image runs without SELinux"
	whyAltRemove = "removes an alternative on upgrade or removal; a fresh install has none to remove"
	whyFcCache   = "fontconfig's cache: without /var/cache/fontconfig each program scans the font directories at start (a few fonts here) and writes its own cache under ~/.cache/fontconfig"
	whyIconCache = "icon-theme.cache: GTK reads an icon theme's directories without it (gtk_icon_theme_lookup_icon), only slower"
	whyGioCache  = "giomodule.cache: without it GIO loads each module of the directory to learn its extension points (gio/giomodule.c, g_io_modules_scan_all_in_directory)"
)

// commands classifies a command by its name (the base name of the command word).
var commands = map[string]rule{
	"update-alternatives":     {Produced, "alternatives: links, /etc/alternatives and /var/lib/dpkg/alternatives, highest priority in auto mode"},
	"update-ca-certificates":  {Produced, "the CA bundle and /etc/ssl/certs links from /etc/ca-certificates.conf"},
	"add-shell":               {Produced, "/etc/shells"},
	"remove-shell":            {NotRun, "only on removal"},
	"ldconfig":                {Irrelevant, whyLdconfig},
	"dpkg-maintscript-helper": {Irrelevant, whyMoveConf},
	"deb-systemd-helper":      {Irrelevant, whyService},
	"deb-systemd-invoke":      {Irrelevant, whyService},
	"systemctl":               {Irrelevant, whyService},
	"update-rc.d":             {Irrelevant, whyService},
	"invoke-rc.d":             {Irrelevant, whyService},
	"runit-helper":            {Irrelevant, whyService},
	"busctl":                  {Irrelevant, "talks to a running system bus; none runs at build time"},
	"systemd":                 {Irrelevant, whyService},
	"systemd-tmpfiles":        {Irrelevant, whyTmpfiles},
	"systemd-sysusers":        {Produced, whySysusers},
	"restorecon":              {Irrelevant, whySELinux},
	"ischroot":                {ReadOnly, ""},
	"dpkg-trigger":            {Irrelevant, "activates a trigger: what that does is classified under the packages interested in it"},
}

// readOnly are commands that only read or compute: shell builtins and text tools. What they write
// through redirections is classified apart (a Command's Writes).
var readOnly = []string{"[", "test", "echo", "printf", ":", "true", "false", "set", "exit", "return",
	"break", "continue", "shift", "local", "readonly", "export", "unset", "read", "cd", "umask",
	"trap", "grep", "egrep", "fgrep", "awk", "tr", "cut", "sort", "uniq", "head", "tail", "cat",
	"cmp", "md5sum", "stat", "readlink", "realpath", "dirname", "basename", "date", "uname", "who",
	"runlevel", "pidof", "command", "which", "type", "getent", "dpkg-query", "sleep", "mktemp",
	"wc", "id", "env", "eval_gettext", "gettext", "sed", "find", "dpkg", "error", "db_version",
	"db_capb", "db_get", "db_metaget", "db_fget", "db_input", "db_go", "db_set", "db_fset",
	"db_reset", "db_subst", "db_settitle", "db_stop", "db_title", "db_purge", "db_unregister",
	"db_register", "db_x_loadtemplatefile", "db_clear", "db_beginblock", "db_endblock"}

// readOnlyArgs are options that make an otherwise read-only command write.
var readOnlyArgs = map[string][]string{
	"sed":  {"-i", "--in-place"},
	"find": {"-delete", "-exec", "-execdir", "-fprint", "-fprintf", "-fls"},
	// dpkg used as a query (--compare-versions, -s, -L); anything else changes the database.
	"dpkg": {"-i", "--install", "--unpack", "--configure", "-r", "--remove", "-P", "--purge",
		"--add-architecture", "--remove-architecture", "--set-selections", "--clear-avail", "--update-avail", "--merge-avail"},
}

// sourced are files a script reads with `.`: they define shell functions (whose commands are
// classified where the script calls them, here as the script's own).
var sourced = map[string]rule{
	"/usr/share/debconf/confmodule":    {Irrelevant, whyDebconf},
	"/usr/share/dpkg/sh/dpkg-error.sh": {ReadOnly, "defines dpkg's error and warning functions"},
}

// triggers classifies trigger interests that some package activates, by trigger name (a path for
// file triggers, deb-triggers(5)).
var triggers = map[string]rule{
	"ldconfig":                              {Irrelevant, whyLdconfig},
	"update-ca-certificates":                {Produced, "the CA bundle and /etc/ssl/certs links"},
	"update-ca-certificates-fresh":          {Produced, "the CA bundle and /etc/ssl/certs links, from scratch"},
	"/usr/share/debianutils/shells.d":       {Produced, "/etc/shells"},
	"/usr/lib/sysctl.d":                     {Irrelevant, "procps reloads sysctl settings into the running kernel; none runs at build time, and the guest's kernel applies nothing from sysctl.d unless the init does"},
	"/lib/pkgconfig":                        {Irrelevant, "pkgconf-bin's DEP-17 cleanup of files moved out of /lib by a bookworm package; a fresh install has none"},
	"/usr/share/glib-2.0/schemas":           {Produced, "usr/share/glib-2.0/schemas/gschemas.compiled, compiled in Go (internal/gschema)"},
	"/usr/lib/pkgconfig":                    {Irrelevant, "pkgconf-bin's DEP-17 cleanup of files moved out of /lib by a bookworm package; a fresh install has none"},
	"/usr/share/fonts":                      {Irrelevant, whyFcCache},
	"/usr/share/icons/hicolor":              {Irrelevant, whyIconCache},
	"/usr/lib/x86_64-linux-gnu/gio/modules": {Irrelevant, whyGioCache},
}

// packages classifies, package by package, the effects of scripts that the generic tables do not
// cover: mostly upgrade-only branches of hand-written scripts. The key is the effect as Classify
// names it: the command's name, or "> path" for an output redirection. A new version of a package
// with a new effect fails the stage until a row is added here.
var packages = map[string]map[string]rule{
	"bash": {
		"ln":           {NotRun, "links /bin/sh to bash only when /bin/sh is missing; dash ships usr/bin/sh"},
		"update-menus": {NotRun, "only when the menu package is installed (command -v update-menus)"},
	},
	"dash": {
		"dpkg-divert":   {ReadOnly, "claim_binsh asks who diverts /bin/sh (--listpackage, --truename); on a fresh install nobody does and it returns before --remove; the other calls are upgrade-only (preinst, and postinst for versions before 0.5.12-3)"},
		"cp":            {NotRun, "claim_binsh's replace_with_link: only after removing bash's diversion of /bin/sh; the .deb ships usr/bin/sh -> dash"},
		"ln":            {NotRun, "the same replace_with_link"},
		"mv":            {NotRun, "the same replace_with_link"},
		"dpkg-realpath": {NotRun, "the same replace_with_link"},
		"touch":         {NotRun, "the same replace_with_link"},
		"rm":            {NotRun, "the same claim_binsh, and the pre-0.5.12-3 diversion cleanup on upgrade"},
		"update-menus":  {NotRun, "only when the menu package is installed (command -v update-menus)"},
	},
	"debianutils": {
		"cp":            {Produced, "/etc/shells from usr/share/debianutils/shells (shells)"},
		"update-shells": {Produced, "/etc/shells and var/lib/shells.state from the template and shells.d (shells)"},
	},
	"man-db": {
		"install":           {Produced, "etc/apparmor.d/local/usr.bin.man, empty, as dh_apparmor's snippet makes it when the package's profile exists (manDB); the other install, ensure_catdir, does not run: the .deb ships /var/cache/man"},
		"mkdir":             {Produced, "etc/apparmor.d/local (manDB)"},
		"aa-enabled":        {NotRun, "AppArmor's tools are not in the set: `aa-enabled` fails, so apparmor_parser is not run"},
		"apparmor_parser":   {NotRun, "the same: only where aa-enabled succeeds"},
		"dpkg-statoverride": {ReadOnly, "only --list, to keep an admin's override"},
		"chown":             {Irrelevant, "debconf's default for man-db/install-setuid is false: root:root, what the .deb ships"},
		"chmod":             {Irrelevant, "the same default: 0755, what the .deb ships"},
		"touch":             {Produced, "var/lib/man-db/auto-update (man-db/auto-update defaults to true) (manDB)"},
		"rm":                {NotRun, "only when man-db/auto-update is false; its default is true"},
	},
	"gzip":     {"dpkg-divert": {NotRun, "only when zutils diverted the z* tools before /usr-move: the guards ask dpkg-divert (read-only) and a set without zutils has no such diversion"}},
	"binutils": {"mv": {NotRun, "preinst: restores /etc/gprofng.rc.dpkg-old on upgrade only"}},
	"ca-certificates": {
		"> /etc/ca-certificates.conf.dpkg-new": {Produced, "/etc/ca-certificates.conf (every certificate enabled, the debconf default)"},
		"> /etc/ca-certificates.conf":          {Produced, "/etc/ca-certificates.conf (every certificate enabled, the debconf default)"},
		"mkdir":                                {Produced, "/usr/local/share/ca-certificates, with /usr/local's mode and group"},
		"chgrp":                                {Produced, "/usr/local/share/ca-certificates, with /usr/local's mode and group"},
		"chmod":                                {Produced, "/usr/local/share/ca-certificates, with /usr/local's mode and group"},
		"chown":                                {Produced, "/usr/local/share/ca-certificates, with /usr/local's mode and group"},
		"mv":                                   {Produced, "/etc/ca-certificates.conf (every certificate enabled, the debconf default)"},
		"rm":                                   {Produced, "/etc/ca-certificates.conf (every certificate enabled, the debconf default)"},
		"dpkg-statoverride":                    {ReadOnly, "only --list, to keep an admin's override"},
	},
	"cpp": {},
	"openssh-server": {
		"runs a computed command $sshd_path": {ReadOnly, "runs sshd -G to read an option of an existing sshd_config"},
		"dpkg-divert":                        {NotRun, "only while finishing an upgrade from a pre-9.8 sshd (/usr/sbin/sshd.session-split exists)"},
		"mv":                                 {NotRun, "the same upgrade, or restoring moduli.dpkg-bak from before 1:7.9p1-5"},
		"chmod":                              {NotRun, "preinst: makes /etc/init.d/ssh executable on a reinstall ($2 set) only"},
	},
	"dpkg": {"> $admindir/arch-native": {Produced, "/var/lib/dpkg/arch-native"}, "ln": {Irrelevant, "links /sbin/start-stop-daemon only where /sbin is not usr-merged; in the image /sbin is usr/sbin"}},
	"gcc":  {"rm": {NotRun, "removes a dangling /etc/alternatives/f77 left by an old gcc; a fresh install has none"}},
	"git":  {"mkdir": {NotRun, "preinst: only when upgrading from a version with /usr/share/git-core/templates as a directory link"}, "ln": {NotRun, "preinst: the same upgrade"}, "rm": {NotRun, "preinst: the same upgrade"}},
	"libglib2.0-0t64": {
		"glib-compile-schemas": {Produced, "usr/share/glib-2.0/schemas/gschemas.compiled, compiled in Go (internal/gschema); with no schema in the image it writes nothing, as the tool does"},
		"gio-querymodules":     {Irrelevant, whyGioCache},
		"rm":                   {NotRun, "preinst: removes a stale giomodule.cache of the pre-t64 library on upgrade"},
	},
	"libgssapi-krb5-2":      {"cp": {NotRun, "copies /usr/etc/gss/mech on upgrade from before 1.12.1+dfsg-2 only"}},
	"libselinux1":           {"rm": {Irrelevant, "removes compiled SELinux contexts (*.bin) that a fresh image does not have"}},
	"pkg-config":            {"rm": {NotRun, "preinst: DEP-17 cleanup of an old pkg-config.multiarch diversion on upgrade"}},
	"pkgconf":               {"rm": {NotRun, "preinst: DEP-17 cleanup on upgrade"}, "dpkg-divert": {NotRun, "preinst: DEP-17 cleanup on upgrade"}},
	"pkgconf-bin":           {"install": {NotRun, "triggered: DEP-17 cleanup (see the /lib/pkgconfig trigger)"}},
	"libreadline8t64":       {"dpkg-divert": {NotRun, "preinst: removes the t64 transition's diversions on upgrade"}},
	"libc6":                 {"dpkg-divert": {NotRun, "preinst: DEP-17 diversions for upgrades from bookworm"}, "ln": {NotRun, "preinst: usr-merge upgrade path"}, "mkdir": {NotRun, "preinst: usr-merge upgrade path"}, "rm": {NotRun, "preinst: usr-merge upgrade path"}, "perl": {ReadOnly, "preinst: a version check"}},
	"libpython3.13-minimal": {},
	"libpam0g":              {"runs a computed command $idl": {NotRun, "restarts services through invoke-rc.d after an upgrade from before 1.4.0-2 only"}},
	"openssl":               {"ln": {Irrelevant, "links /usr/lib/ssl to /etc/ssl only if it is missing; libssl3t64 ships it (checked by TestRealDeveloperSet)"}},
	"less":                  {},
	"nano":                  {},
	"g++":                   {},
	"tar":                   {},
	"golang-go":             {},
	"libcrypt-dev":          {},
	"libpam-modules-bin":    {},
	"procps":                {"sysctl": {Irrelevant, "applies sysctl.d to the running kernel; none runs at build time"}, "chmod": {NotRun, "preinst: makes /etc/init.d/procps executable on a reinstall ($2 set) only"}},
	"sudo":                  {"rm": {NotRun, "removes files of old versions (/etc/alternatives/sudo, sudoers.dist, sudoers.pre-conffile) that a fresh install lacks"}, "chown": {Produced, "/etc/sudoers root:root (modeFixes)"}, "chmod": {Produced, "/etc/sudoers 0440 (modeFixes; the .deb ships it 0644)"}, "mv": {NotRun, "preinst: moves a lenny-to-wheezy sudoers aside on upgrade only"}},
	"libdebuginfod-common":  {"ucf": {Irrelevant, "installs /etc/profile.d/debuginfod.* only if debconf's libdebuginfod/usedebiandebuginfod is true; its default is false"}, "ucfr": {Irrelevant, "the same"}, "chmod": {Irrelevant, "the same"}, "rm": {Irrelevant, "removes /etc/profile.d/debuginfod.*, which a fresh image does not have"}, "ln": {NotRun, "Ubuntu only (ID=ubuntu in /etc/os-release)"}},
	"login.defs":            {"mv": {NotRun, "restores /etc/login.defs.dpkg-bak, which only an earlier install leaves"}},
	"fontconfig-config": {
		"ln":    {Produced, "the conf.d links of debconf's defaults: 10-hinting-slight.conf and 70-no-bitmaps-except-emoji.conf (fontconfigLinks); the other ln calls are upgrade branches or other answers"},
		"rm":    {Irrelevant, "removes conf.d links of earlier answers before making the new ones; the one the .deb ships (10-sub-pixel-none.conf) is made again by the same answer (fontconfigLinks)"},
		"mkdir": {Irrelevant, "/usr/local/share/fonts: fontconfig skips a configured font directory that does not exist"},
		"chmod": {NotRun, "only with /etc/staff-group-for-usr-local, which base-files' builder image does not have"},
		"chown": {NotRun, "the same /etc/staff-group-for-usr-local"},
		"rmdir": {NotRun, "removes /etc/fonts.conf.d left by fontconfig-config 2.11.0-5 and earlier; a fresh install has none"},
	},
	"fontconfig": {
		"mkdir":                     {Irrelevant, whyFcCache},
		"fc-cache":                  {Irrelevant, whyFcCache},
		"> /var/log/fontconfig.log": {Irrelevant, "fc-cache's log, with fc-cache"},
	},
	"dbus-system-bus-common": {
		"runs a computed command $@": {Produced, "in_sysroot adduser --system messagebus runs only without systemd-sysusers; the messagebus user comes from usr/lib/sysusers.d/dbus.conf (" + whySysusers + ")"},
		"chroot":                     {NotRun, "in_sysroot chroots only with $DPKG_ROOT set"},
	},
	"firefox-esr": {
		"rm":          {Irrelevant, "removes /usr/lib/firefox-esr/updates, which the .deb does not ship"},
		"dpkg-divert": {Irrelevant, "diverts /usr/bin/firefox to firefox.real for the wrapper; no package of the set ships /usr/bin/firefox"},
	},
	"gtk-update-icon-cache": {"dpkg-divert": {Irrelevant, "removes libgtk-3-bin's old diversion of update-icon-caches; a fresh image has none"}},
	"adwaita-icon-theme":    {"update-icon-caches": {Irrelevant, whyIconCache}},
	"hicolor-icon-theme":    {"runs a computed command $UPDATE_CACHE": {Irrelevant, whyIconCache}},
	"libgtk-3-0t64":         {"rm": {NotRun, "removes the postrm of an installed pre-t64 libgtk-3-0 (dpkg-query finds none on a fresh install)"}},
	"libc-bin":              {"cp": {Produced, "/etc/nsswitch.conf from usr/share/libc-bin/nsswitch.conf when missing (nsswitch); the other cp updates an unmodified file on upgrade only"}},
	"seatd":                 {"chmod": {NotRun, "preinst: makes /etc/init.d/seatd executable on a reinstall ($2 set) only"}},
}
