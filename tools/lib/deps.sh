# tools/lib/deps.sh — installs the Debian 12 packages waybill's build, tests and
# tools need, only those that are missing. Sourced by tools/test,
# tools/quickstart and tools/bench; defines wb_install_deps.

# shellcheck shell=bash
WB_DEBIAN_PACKAGES=(
	build-essential cmake pkg-config
	libpq-dev libavro-dev libzstd-dev libyaml-dev libjansson-dev zlib1g-dev
	librdkafka-dev libcurl4-openssl-dev libjemalloc-dev
	libmariadb-dev unixodbc-dev
	odbc-postgresql odbc-mariadb libsqliteodbc
	postgresql-15 postgresql-client-15 mariadb-server mariadb-client
	python3 python3-avro python3-zstandard python3-confluent-kafka python3-pip kcat
	time strace clang libclang-rt-14-dev clang-format
	openjdk-17-jre-headless maven
)

# wb_install_deps [extra packages...]: apt-get installs whatever of
# WB_DEBIAN_PACKAGES (plus the arguments) is not installed yet. Does nothing,
# and needs no root, when everything is present.
wb_install_deps()
{
	local pkg missing=()
	for pkg in "${WB_DEBIAN_PACKAGES[@]}" "$@"; do
		if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
			grep -q 'install ok installed'; then
			missing+=("$pkg")
		fi
	done
	if [ ${#missing[@]} -eq 0 ]; then
		echo "==> packages: all ${#WB_DEBIAN_PACKAGES[@]} present"
		return 0
	fi
	echo "==> packages: installing ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		echo "error: missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
		return 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
}
