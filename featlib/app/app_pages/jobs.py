"""Jobs: the heavy work of everyone on this server (training, extraction, maps, checks), live."""

from featlib.app import job_list, text

text.title("Jobs")
text.caption(
    "Training, reading layers, maps, scores and upload checks run as jobs on the workers, not in the page: "
    "they go on when you reload or leave, and any session asking for the same result joins the running job."
)
job_list.live_list()
