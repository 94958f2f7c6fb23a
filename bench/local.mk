EXTRA_DIST += bench/issue-rate.sh bench/certbot-rate.sh \
	bench/milter-latency.sh bench/milter-scale.sh bench/milter-throughput.sh
EXTRA_DIST += bench/http01-idle.sh
EXTRA_DIST += bench/milter-stop.sh bench/run-schedule.sh bench/renew-vs-certbot.sh
