# tidy.awk — drops the paragraph macros scdoc emits where no paragraph
# follows (after .TH/.SH/.SS, before .SH/.SS/.RE/.P or at the end), which
# mandoc -T lint reports as "skipping paragraph macro". The text is
# unchanged. Usage: scdoc < page.scd | awk -f tidy.awk > page
function is_para(l) { return l == ".P" || l == ".PP" }
{ lines[NR] = $0 }
END {
	prev = ""
	for (i = 1; i <= NR; i++) {
		l = lines[i]
		if (is_para(l)) {
			next_l = (i < NR) ? lines[i + 1] : ""
			if (prev ~ /^\.(TH|SH|SS)( |$)/ || is_para(prev) ||
			    next_l ~ /^\.(SH|SS|RE|P|PP)( |$)/ || i == NR)
				continue
		}
		print l
		prev = l
	}
}
