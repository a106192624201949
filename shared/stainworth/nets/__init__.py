"""Network pieces the stainers and the task networks share.

Where networks run (:mod:`.devices`), the training machinery (:mod:`.training`), user-supplied
initial weights (:mod:`.weights`), input normalisation (:mod:`.normalise`), padding to a size the
network accepts (:mod:`.padding`), the EfficientUNet (:mod:`.efficientunet`; a stainer and a
segmentation task network) and the capacity count (:mod:`.parameters`).
"""
