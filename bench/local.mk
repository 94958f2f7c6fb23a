EXTRA_DIST += bench/issue-rate.sh bench/certbot-rate.sh
